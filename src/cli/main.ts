// cli/main.ts — the `grapevine` executable's entry (bin/grapevine.js imports it): registers the
// commands that exist and turns every outcome into SPEC §1's exit codes.
//
// commander is told never to exit or print errors itself (exitOverride, configureOutput): a usage
// error becomes one line on stderr and exit 2, like an invalid node option (ConfigError); help and
// --version exit 0. Commands report their own outcome through setExit or by throwing (shared.ts).
// The process exits only after stdout and stderr have drained, so piped output is never cut short.

import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import {
  EXIT_CODES,
  printError,
  processOutput,
  reportFailure,
  type CliOutput,
  type ExitCode,
} from "./shared.js";
import { registerBenchCommand } from "./bench.js";
import { registerCertCommand } from "./cert.js";
import { registerDelCommand } from "./del.js";
import { registerDecommissionCommand } from "./decommission.js";
import { registerRemoveNodeCommand } from "./removenode.js";
import { registerDevCommand } from "./dev.js";
import { registerGetCommand } from "./get.js";
import { registerPutCommand } from "./put.js";
import { registerRepairCommand } from "./repair.js";
import { registerFutureRecordsCommand } from "./future-records.js";
import { registerSimCommand } from "./sim.js";
import { registerStartCommand } from "./start.js";
import { registerStatusCommand } from "./status.js";
import { registerStopCommand } from "./stop.js";
import { registerBucketCommand } from "./bucket.js";
import { registerKeysCommand } from "./keys.js";
import { addCertsDirOption } from "./tls-client.js";
import { addTokenOption } from "./token-client.js";
import { registerTokenCommand } from "./token.js";

/** The commands that talk to nodes: `--certs-dir` makes them speak TLS (cli/tls-client.ts). */
const TLS_CLIENT_COMMANDS: ReadonlySet<string> = new Set([
  "status",
  "put",
  "get",
  "del",
  "bench",
  "decommission",
  "removenode",
  "stop",
  "repair",
  "future-records",
  "keys",
]);

/** commander's codes for output that is not a failure. */
const COMMANDER_SUCCESS_CODES = new Set(["commander.helpDisplayed", "commander.version"]);

function packageVersion(): string {
  try {
    const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === "string" ? version : "unknown";
  } catch {
    return "unknown";
  }
}

export function createProgram(output: CliOutput, setExit: (code: ExitCode) => void): Command {
  const program = new Command("grapevine");
  // Set before the commands are added: subcommands copy these settings when they are created.
  program
    .description("a distributed, eventually-consistent key-value store")
    .version(packageVersion(), "-V, --version")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => output.out(text),
      writeErr: (text) => output.err(text),
      // Errors are printed once, as one line, by the catch below.
      outputError: () => undefined,
    })
    .showSuggestionAfterError(true);
  registerStartCommand(program, output, setExit);
  registerDevCommand(program, output, setExit);
  registerStatusCommand(program, output, setExit);
  registerPutCommand(program, output, setExit);
  registerGetCommand(program, output, setExit);
  registerDelCommand(program, output, setExit);
  registerBenchCommand(program, output, setExit);
  registerDecommissionCommand(program, output, setExit);
  registerRemoveNodeCommand(program, output, setExit);
  registerStopCommand(program, output, setExit);
  registerBucketCommand(program, output, setExit);
  registerKeysCommand(program, output, setExit);
  registerRepairCommand(program, output, setExit);
  registerFutureRecordsCommand(program, output, setExit);
  registerSimCommand(program, output, setExit);
  registerCertCommand(program, output, setExit);
  registerTokenCommand(program, output, setExit);
  for (const command of program.commands)
    if (TLS_CLIENT_COMMANDS.has(command.name())) addTokenOption(addCertsDirOption(command));
  return program;
}

export async function runCli(
  argv: readonly string[],
  output: CliOutput = processOutput,
): Promise<ExitCode> {
  let exitCode: ExitCode = EXIT_CODES.ok;
  const program = createProgram(output, (code) => {
    exitCode = code;
  });
  try {
    await program.parseAsync([...argv]);
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (COMMANDER_SUCCESS_CODES.has(error.code)) return EXIT_CODES.ok;
      // `grapevine help` is a success; `grapevine` alone prints the same help as a usage error.
      if (error.code === "commander.help")
        return error.exitCode === 0 ? EXIT_CODES.ok : EXIT_CODES.usage;
      printError(output, `${error.message.replace(/^error: /, "")} (see --help)`);
      return EXIT_CODES.usage;
    }
    return reportFailure(output, error);
  }
}

function exitAfterFlush(code: ExitCode): void {
  process.stdout.write("", () => {
    process.stderr.write("", () => process.exit(code));
  });
}

exitAfterFlush(await runCli(process.argv));
