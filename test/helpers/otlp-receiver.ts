import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
// The request types of the official OTLP transformer (what the exporter serialises); its
// index re-exports only the response types.
import type { IAnyValue, IKeyValue } from '@opentelemetry/otlp-transformer/build/src/common/internal-types';
import type { IExportTraceServiceRequest, ISpan } from '@opentelemetry/otlp-transformer/build/src/trace/internal-types';

export type AttributeValue = string | number | boolean;

/** One received span, decoded from OTLP's JSON encoding. */
export interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  /** OTLP's SpanKind: 1 internal, 2 server. */
  readonly kind: number;
  readonly attributes: Readonly<Record<string, AttributeValue>>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  readonly statusCode: number;
  readonly resource: Readonly<Record<string, AttributeValue>>;
}

/**
 * An OTLP/HTTP trace collector on 127.0.0.1 (what Jaeger's port 4318 is): accepts
 * POST /v1/traces in the JSON encoding that @opentelemetry/exporter-trace-otlp-http
 * sends, and decodes every span.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Every request body as received, for "this never appears" checks. */
  readonly bodies: string[] = [];
  readonly headers: Array<Record<string, string | string[] | undefined>> = [];
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        const text = Buffer.concat(chunks).toString('utf8');
        this.bodies.push(text);
        this.headers.push(req.headers);
        this.spans.push(...decodeTraces(JSON.parse(text) as IExportTraceServiceRequest));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  named(name: string): ReceivedSpan[] {
    return this.spans.filter((span) => span.name === name);
  }
}

function decodeTraces(request: IExportTraceServiceRequest): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = attributesOf(resourceSpans.resource?.attributes ?? []);
    for (const scopeSpans of resourceSpans.scopeSpans) {
      for (const span of scopeSpans.spans ?? []) spans.push(decodeSpan(span, resource));
    }
  }
  return spans;
}

function decodeSpan(span: ISpan, resource: Record<string, AttributeValue>): ReceivedSpan {
  const parentSpanId = span.parentSpanId !== undefined ? hex(span.parentSpanId) : '';
  return {
    traceId: hex(span.traceId),
    spanId: hex(span.spanId),
    ...(parentSpanId !== '' ? { parentSpanId } : {}),
    name: span.name,
    kind: span.kind,
    attributes: attributesOf(span.attributes),
    statusCode: span.status.code,
    resource,
  };
}

/** The JSON encoding carries ids as hex strings (OTLP/JSON); the binary form as bytes. */
function hex(id: string | Uint8Array): string {
  return typeof id === 'string' ? id : Buffer.from(id).toString('hex');
}

function attributesOf(list: readonly IKeyValue[]): Record<string, AttributeValue> {
  return Object.fromEntries(list.map((kv) => [kv.key, valueOf(kv.value)]));
}

function valueOf(value: IAnyValue): AttributeValue {
  if (value.stringValue !== undefined && value.stringValue !== null) return value.stringValue;
  if (value.boolValue !== undefined && value.boolValue !== null) return value.boolValue;
  // 64-bit integers may come as decimal strings (OTLP/JSON).
  if (value.intValue !== undefined && value.intValue !== null) return Number(value.intValue);
  if (value.doubleValue !== undefined && value.doubleValue !== null) return value.doubleValue;
  throw new Error(`unexpected attribute value ${JSON.stringify(value)}`);
}
