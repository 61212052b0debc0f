//! Output: progress bars on a terminal, plain lines otherwise, JSON with --output json. STUB.
