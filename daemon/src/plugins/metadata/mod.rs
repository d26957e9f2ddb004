//! metadata: lets plugins attach values to a query (`forward/upstream`,
//! `log/type`, ...) that others read, such as log's `{/NAME}` labels.

mod setup;

pub use setup::setup;
