//! # rampart-eval
//!
//! Packet evaluation: the reference interpreter of netfilter's traversal over the policy model and a compiled classifier with the same answers.
