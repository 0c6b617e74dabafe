import { constants } from 'node:os';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_CONFIG_FILE } from '../config/config';
import { isPlainObject } from '../config/section';
import { VERSION } from '../version';
import type { ProcessSignals } from './signals';

/**
 * Where the config comes from: --config, then $HERALD_CONFIG, then Sygnal's $SYGNAL_CONF
 * (so a Sygnal deployment's environment works unchanged), then ./herald.yaml. An empty
 * variable counts as unset.
 */
export function configPath(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option || env.HERALD_CONFIG || env.SYGNAL_CONF || DEFAULT_CONFIG_FILE;
}

/** A command interrupted by SIGTERM/SIGINT ends as a shell reports it: 128 + the signal's number. */
function exitInterrupted(signal: NodeJS.Signals): never {
  process.exit(128 + constants.signals[signal]);
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidArgumentError('not JSON');
  }
  if (!isPlainObject(value)) throw new InvalidArgumentError('must be a JSON object');
  return value;
}

/**
 * The `herald` command line. Each command loads its modules when it runs (a synchronous
 * require, typed by the module), so that `--version` and `hash-pushkey` do not pay for
 * what they never use.
 */
/* eslint-disable @typescript-eslint/no-require-imports -- on-demand loads, see above */
export function buildCli(signals: ProcessSignals): Command {
  const program = new Command('herald')
    .description('Herald, a Matrix push gateway')
    .version(VERSION)
    .option('-c, --config <file>', 'configuration file (default: $HERALD_CONFIG, then $SYGNAL_CONF, then ./herald.yaml)')
    // Words after `herald` that name no command reach this action: say so, rather than
    // commander's "too many arguments" (the root command takes none).
    .allowExcessArguments()
    .action(async (options: { config?: string }) => {
      const [word] = program.args;
      if (word !== undefined) {
        const commands = program.commands.map((command) => command.name()).join(', ');
        program.error(`error: unknown command '${word}' (commands: ${commands}; see herald --help)`, { code: 'commander.unknownCommand' });
      }
      const { serve } = require('./serve') as typeof import('./serve');
      process.exitCode = await serve(configPath(options.config), signals);
    });

  program
    .command('check-config')
    .description('validate a configuration file, load every credential, and print each app')
    .argument('[file]', 'configuration file (default: $HERALD_CONFIG, then $SYGNAL_CONF, then ./herald.yaml)')
    .action(async (file: string | undefined) => {
      signals.onStop(exitInterrupted);
      const { checkConfig } = require('./check-config') as typeof import('./check-config');
      process.exitCode = await checkConfig(configPath(file ?? program.opts<{ config?: string }>().config), process.stdout, process.stderr);
    });

  program
    .command('send-test')
    .description("send a test notification to one device through the app's pushkin and explain the platform's answer")
    .option('-c, --config <file>', 'configuration file (default: $HERALD_CONFIG, then $SYGNAL_CONF, then ./herald.yaml)')
    .requiredOption('--app-id <id>', 'app_id of the pusher, as the client registered it')
    .requiredOption('--pushkey <key>', 'pushkey of the pusher (e.g. the base64 APNs token or the FCM registration token)')
    .addOption(new Option('--format <format>', 'notification format').choices(['full', 'event_id_only']).default('full'))
    .option('--message <text>', 'message body shown on the device', 'Test notification from Herald')
    .option('--data <json>', 'pusher data as JSON, e.g. a Web Push subscription: \'{"endpoint": "https://…", "auth": "…"}\'', parseJsonObject)
    .action(async (options: { config?: string; appId: string; pushkey: string; format: 'full' | 'event_id_only'; message: string; data?: Record<string, unknown> }) => {
      signals.onStop((signal) => {
        process.stdout.write(`result:  interrupted (${signal})\n`);
        exitInterrupted(signal);
      });
      const { sendTest } = require('./send-test') as typeof import('./send-test');
      process.exitCode = await sendTest(
        {
          configFile: configPath(options.config ?? program.opts<{ config?: string }>().config),
          appId: options.appId,
          pushkey: options.pushkey,
          format: options.format,
          message: options.message,
          ...(options.data !== undefined ? { data: options.data } : {}),
        },
        process.stdout,
        process.stderr,
      );
    });

  program
    .command('hash-pushkey')
    .description("print the short hash Herald's logs use for a pushkey, to find its log lines")
    .argument('<pushkey>')
    .action((pushkey: string) => {
      const { redactPushkey } = require('../util/redact') as typeof import('../util/redact');
      process.stdout.write(`${redactPushkey(pushkey)}\n`);
    });

  program
    .command('vapid-keys')
    .description('make a VAPID key pair for a webpush app: writes the private key (PEM) to FILE, prints the public key for the web app')
    .argument('<file>', 'where to write the private key (must not exist)')
    .action((file: string) => {
      const { vapidKeys } = require('./vapid-keys') as typeof import('./vapid-keys');
      process.exitCode = vapidKeys(file, process.stdout, process.stderr);
    });

  return program;
}
/* eslint-enable @typescript-eslint/no-require-imports */
