import { Command, Option } from 'commander';
import { VERSION } from '../version';
import { checkConfig } from './check-config';
import { sendTest } from './send-test';
import { serve } from './serve';
import { redactPushkey } from '../util/redact';

/**
 * Where the config comes from: --config, then $HERALD_CONFIG, then Sygnal's $SYGNAL_CONF
 * (so a Sygnal deployment's environment works unchanged), then ./herald.yaml. An empty
 * variable counts as unset.
 */
export function configPath(option: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return option || env.HERALD_CONFIG || env.SYGNAL_CONF || 'herald.yaml';
}

export function buildCli(): Command {
  const program = new Command('herald')
    .description('Herald, a Matrix push gateway')
    .version(VERSION)
    .option('-c, --config <file>', 'configuration file (default: $HERALD_CONFIG, then $SYGNAL_CONF, then ./herald.yaml)')
    .action(async (options: { config?: string }) => {
      process.exitCode = await serve(configPath(options.config));
    });

  program
    .command('check-config')
    .description('validate a configuration file, load every credential, and print each app')
    .argument('[file]', 'configuration file (default: $HERALD_CONFIG, then $SYGNAL_CONF, then ./herald.yaml)')
    .action(async (file: string | undefined) => {
      process.exitCode = await checkConfig(configPath(file ?? program.opts<{ config?: string }>().config), process.stdout);
    });

  program
    .command('send-test')
    .description("send a test notification to one device through the app's pushkin and explain the platform's answer")
    .option('-c, --config <file>', 'configuration file (default: $HERALD_CONFIG, then $SYGNAL_CONF, then ./herald.yaml)')
    .requiredOption('--app-id <id>', 'app_id of the pusher, as the client registered it')
    .requiredOption('--pushkey <key>', 'pushkey of the pusher (e.g. the base64 APNs token or the FCM registration token)')
    .addOption(new Option('--format <format>', 'notification format').choices(['full', 'event_id_only']).default('full'))
    .option('--message <text>', 'message body shown on the device', 'Test notification from Herald')
    .action(async (options: { config?: string; appId: string; pushkey: string; format: 'full' | 'event_id_only'; message: string }) => {
      process.exitCode = await sendTest(
        {
          configFile: configPath(options.config ?? program.opts<{ config?: string }>().config),
          appId: options.appId,
          pushkey: options.pushkey,
          format: options.format,
          message: options.message,
        },
        process.stdout,
      );
    });

  program
    .command('hash-pushkey')
    .description("print the short hash Herald's logs use for a pushkey, to find its log lines")
    .argument('<pushkey>')
    .action((pushkey: string) => {
      process.stdout.write(`${redactPushkey(pushkey)}\n`);
    });

  return program;
}
