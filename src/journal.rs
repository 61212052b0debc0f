//! Run journal under the state directory. STUB.
