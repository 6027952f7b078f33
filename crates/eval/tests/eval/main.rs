//! The evaluator's integration tests (issue 4): the data-driven corpus
//! and the property test of the classifier against the reference.

mod corpus;
mod prop;
