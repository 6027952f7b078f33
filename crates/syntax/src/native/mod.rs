//! rampart native TOML policy format. PLACEHOLDER (N1).
