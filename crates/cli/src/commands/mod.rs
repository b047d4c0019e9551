//! One module per subcommand: its arguments, and a thin function that calls the library and
//! prints.

pub mod args;
pub mod bench;
pub mod commit;
pub mod generate;
pub mod inspect;
pub mod merge_lora;
pub mod progress;
pub mod prove;
pub mod serve;
pub mod train;
pub mod verify;
pub mod verify_run;
