/**
 * Blocks of Sygnal's sample sygnal.yaml that Herald accepts and does not use, as
 * operators have them, indented for their places: under `log:` and under `metrics:`.
 */

/** Sygnal's Python logging setup (`log.setup`). */
export const SYGNAL_LOG_SETUP = `  setup:
    version: 1
    formatters:
      normal:
        format: "%(asctime)s [%(process)d] %(levelname)-5s %(name)s %(message)s"
    handlers:
      stderr:
        class: "logging.StreamHandler"
        formatter: "normal"
        stream: "ext://sys.stderr"
    loggers:
      sygnal.access:
        propagate: false
        handlers: ["stderr"]
        level: "INFO"
    root:
      handlers: ["stderr"]
      level: "INFO"
    disable_existing_loggers: false`;

/** Sygnal's opentracing section (`metrics.opentracing`). */
export const SYGNAL_OPENTRACING = `  opentracing:
    enabled: false
    implementation: jaeger
    jaeger:
      sampler:
        type: 'const'
        param: 1
      logging: true
    service_name: sygnal`;
