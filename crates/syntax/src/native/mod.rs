//! rampart native TOML policy format.
mod ast;
pub mod catalogue;
pub mod load;

#[cfg(test)]
mod probe {
    use super::ast::*;
    #[test]
    fn spans() {
        let text = "include = [\"a\"]\n[defaults]\ninput = \"drop\"\n\n[[allow]]\nport = \"22/tcp\"\n[[deny]]\nfrom = [\"1.2.3.4\", \"@x\"]\n[[allow]]\nservice = \"ssh\"\n[sets.x]\nelements = []\n[[nat.forward]]\nin = \"eth0\"\nport=\"1/tcp\"\nto=\"1.2.3.4\"\n[[allow]]\n";
        let f: File = toml::from_str(text).unwrap();
        for a in &f.allow { eprintln!("allow {:?} {:?}", a.span(), &text[a.span()]); }
        for a in &f.deny { eprintln!("deny {:?} {:?}", a.span(), &text[a.span()]); if let Some(fr) = &a.get_ref().from { eprintln!("from {:?}", fr); } }
        for (k, v) in &f.sets { eprintln!("set {:?} {:?} {:?}", k.span(), v.span(), &text[v.span()]); }
        eprintln!("defaults {:?}", f.defaults.as_ref().unwrap().span());
        eprintln!("nat {:?}", f.nat.as_ref().map(|n| n.forward.iter().map(|x| x.span()).collect::<Vec<_>>()));
        let e = toml::from_str::<File>("[defaults]\ninput = \"drop\"\nbogus = 1\n").unwrap_err();
        eprintln!("{:?} {:?}", e.message(), e.span());
        let e = toml::from_str::<File>("[[allow]]\nrate = { per_source = \"x\", bogus = 2 }\n").unwrap_err();
        eprintln!("{:?} {:?}", e.message(), e.span());
        let e = toml::from_str::<File>("[defaults]\ninput = \"dorp\"\n").unwrap_err();
        eprintln!("{:?} {:?}", e.message(), e.span());
        let e = toml::from_str::<File>("[sets.x]\nelements = [1]\n").unwrap_err();
        eprintln!("{:?} {:?}", e.message(), e.span());
        let e = toml::from_str::<File>("[[allow]]\nfrom = [1]\n").unwrap_err();
        eprintln!("{:?} {:?}", e.message(), e.span());
        let e = toml::from_str::<File>("[[nat.forward]]\nin = \"x\"\n").unwrap_err();
        eprintln!("{:?} {:?}", e.message(), e.span());
    }
}
