/**
 * Deployments run the built JavaScript (`node dist/functions/main.js schedule`); a
 * checkout has only the sources until `npm run build`. Tests of a unit's or a
 * container's command run the same module from its source through tsx;
 * test/package.test.ts runs the built package itself.
 */
export function fromSources(args: readonly string[]): string[] {
  const at = args.findIndex((a) => /^dist\/.+\.js$/.test(a));
  if (at < 0) return [...args];
  const source = args[at]!.replace(/^dist\//, "").replace(/\.js$/, ".ts");
  return [...args.slice(0, at), "--import", "tsx", source, ...args.slice(at + 1)];
}
