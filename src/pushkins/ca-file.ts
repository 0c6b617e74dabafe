import type { ConfigSection } from '../config/section';

/** `ca_file` of the fcm and webpush pushkins: extra CA certificates (PEM) to trust besides the system's. */
export function optionalCa(section: ConfigSection): { ca?: string } {
  const file = section.fileText('ca_file');
  if (file === undefined) return {};
  if (!file.text.includes('-----BEGIN CERTIFICATE-----')) section.error('ca_file', 'must be a PEM file of CA certificates');
  return { ca: file.text };
}
