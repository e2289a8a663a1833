//! nestinit's pure core: decisions as functions of data, unit-tested without root.
//!
//! The binary (`src/main.rs`) is the imperative shell that carries these decisions out with
//! system calls. Nothing here makes a system call or allocates.
#![cfg_attr(not(test), no_std)]

pub mod bytes;
pub mod config;
pub mod errno;
pub mod exit;
pub mod mountinfo;
pub mod notify;
pub mod plan;
pub mod procfs;
pub mod signals;
pub mod text;
