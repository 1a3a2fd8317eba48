fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(akko_audit::cli::main().code() as u8)
}
