/**
 * Sets (or, for undefined, removes) environment variables for one test; returns the
 * function that puts back what was there.
 */
export function setEnv(vars: Record<string, string | undefined>): () => void {
  const saved = Object.entries(vars).map(([name]) => [name, process.env[name]] as const);
  for (const [name, value] of Object.entries(vars)) assign(name, value);
  return () => {
    for (const [name, value] of saved) assign(name, value);
  };
}

function assign(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}
