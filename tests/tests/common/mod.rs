//! Test code shared by several suites (each suite compiles what it uses).
#![allow(dead_code)]

pub mod flow;
