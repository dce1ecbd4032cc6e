//! One CloudFormation GetTemplate call as a whole process, with the same SDK configuration `ce`
//! uses: the yardstick `benches/diff.sh` holds `ce diff` against (DESIGN.md: an unchanged env's
//! diff should cost about one round trip, at most 1.5x this).
//!
//! Usage: `get_template <endpoint> <stack>`; prints the template's size in bytes.

use std::process::ExitCode;

use ce_infra::aws::{Aws, Target};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoint, stack] = args.as_slice() else {
        eprintln!("usage: get_template <endpoint> <stack>");
        return ExitCode::from(2);
    };
    let runtime = match ce_infra::aws::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let target = Target::Sandbox {
        endpoint: endpoint.clone(),
    };
    let answer = runtime.block_on(async {
        let aws = Aws::connect("us-east-1", target).await;
        aws.cloudformation()
            .client()
            .get_template()
            .stack_name(stack)
            .send()
            .await
    });
    match answer {
        Ok(out) => {
            println!("{}", out.template_body().map_or(0, str::len));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:?}");
            ExitCode::FAILURE
        }
    }
}
