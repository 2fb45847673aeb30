fn main() -> std::process::ExitCode {
    pamps::cli::run()
}
