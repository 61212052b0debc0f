//! Tera templates embedded in the binary (strict: an undefined variable is an error). STUB.
