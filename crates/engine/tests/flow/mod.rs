mod crash;
pub mod file_world;
pub mod memory;
pub mod modes;
mod sigkill;
