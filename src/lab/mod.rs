//! `otp-provision lab`: a multi-node lab of systemd containers. STUB (lab helper).
