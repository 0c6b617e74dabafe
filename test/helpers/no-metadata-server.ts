import { gcpMetadata } from 'google-auth-library';

/*
 * Loaded before the tests (.mocharc.json `require`). google-auth-library falls back to the
 * GCE / GKE metadata server when it finds no other credentials: no test may reach a real
 * one, in this process or in a herald binary a test starts (they inherit the environment).
 * A test that wants the metadata server points GCE_METADATA_HOST at the mock and sets
 * METADATA_SERVER_DETECTION to `ping-only` for its own duration.
 */
process.env.METADATA_SERVER_DETECTION = 'none';
// Running on a Google Cloud VM would otherwise count as "the metadata server is there" without asking it.
gcpMetadata.setGCPResidency(false);
