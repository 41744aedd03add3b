//! The `zk-chaos` command line.

mod cli;

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    cli::init_tracing(args.verbose);
    if let Some(why) = zk_chaos::operator::sabotage_refused() {
        eprintln!("error: {why}");
        return std::process::ExitCode::from(cli::EXIT_BAD_INPUT);
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build();
    let rt = match rt {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(cli::dispatch(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", cli::render_error(&e));
            std::process::ExitCode::from(cli::exit_status(&e))
        }
    }
}
