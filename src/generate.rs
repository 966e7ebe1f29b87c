//! `rnc --generate man|bash|zsh|fish` (ripgrep's habit): the man page and the shell
//! completions, made from clap's definition of the command line at the moment they are
//! asked for, so they can never drift from `--help`. Printed on stdout; installing them
//! is the user's or the packager's step (docs/usage.md has the one-liners).

use std::io::{self, Write};

use clap::{Command, CommandFactory};

use crate::cli::{Cli, Generate};

/// Write what `kind` asks for to `out`.
pub(crate) fn generate(kind: Generate, out: &mut dyn Write) -> io::Result<()> {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    match kind {
        Generate::Man => out.write_all(&man_page(command)?),
        Generate::Bash => {
            clap_complete::generate(clap_complete::Shell::Bash, &mut command, name, out);
            Ok(())
        }
        Generate::Zsh => {
            clap_complete::generate(clap_complete::Shell::Zsh, &mut command, name, out);
            Ok(())
        }
        Generate::Fish => {
            clap_complete::generate(clap_complete::Shell::Fish, &mut command, name, out);
            Ok(())
        }
    }
}

/// The man page: clap_mangen's, with two changes it has no knob for: each option's visible
/// aliases (`--recv-only`, `--ssl`…) in its text, as `--help` shows them, and the
/// examples and exit codes (clap's `after_help`) under `EXAMPLES` instead of `EXTRA`.
fn man_page(command: Command) -> io::Result<Vec<u8>> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(with_aliases_in_help(command)).render(&mut roff)?;
    let text = String::from_utf8_lossy(&roff).replace(".SH EXTRA", ".SH EXAMPLES");
    Ok(text.into_bytes())
}

/// `command` with `[aliases: --a, --b]` added to the help of each option that has them.
fn with_aliases_in_help(mut command: Command) -> Command {
    let aliased: Vec<(clap::Id, String)> = command
        .get_arguments()
        .filter_map(|arg| {
            let aliases = arg.get_visible_aliases()?;
            let listed: Vec<String> = aliases.iter().map(|a| format!("--{a}")).collect();
            Some((arg.get_id().clone(), listed.join(", ")))
        })
        .collect();
    for (id, listed) in aliased {
        command = command.mut_arg(id, |arg| {
            let help = arg
                .get_long_help()
                .or(arg.get_help())
                .map(ToString::to_string)
                .unwrap_or_default();
            arg.long_help(format!("{help}\n[aliases: {listed}]"))
        });
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generated(kind: Generate) -> String {
        let mut out = Vec::new();
        generate(kind, &mut out).expect("writing to a Vec cannot fail");
        String::from_utf8(out).expect("generated text is UTF-8")
    }

    /// Every long option and visible alias of the command line, hidden ones excepted.
    fn long_options() -> Vec<String> {
        let command = Cli::command();
        let mut names = Vec::new();
        for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
            names.extend(arg.get_long().map(str::to_string));
            names.extend(
                arg.get_visible_aliases()
                    .unwrap_or_default()
                    .into_iter()
                    .map(str::to_string),
            );
        }
        assert!(names.len() > 30, "the CLI has many options: {names:?}");
        names
    }

    #[test]
    fn generate_man_page_names_every_option_and_the_examples() {
        // roff writes `-` as `\-`; undo that to read the page as text.
        let man = generated(Generate::Man).replace("\\-", "-");
        for name in long_options() {
            assert!(
                man.contains(&format!("--{name}")),
                "man page lacks --{name}"
            );
        }
        assert!(man.contains(".SH EXAMPLES"), "{man}");
        assert!(man.contains("rnc -l 5000"), "examples missing");
        assert!(man.contains("[aliases: --recv-only]"));
    }

    #[test]
    fn generate_completions_name_the_options() {
        for kind in [Generate::Bash, Generate::Zsh, Generate::Fish] {
            let script = generated(kind);
            for name in ["--listen", "--send-only", "--keepalive", "--retry-delay"] {
                let bare = name.trim_start_matches('-');
                assert!(script.contains(bare), "{kind:?} completion lacks {name}");
            }
        }
    }
}
