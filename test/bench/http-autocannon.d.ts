// autocannon 8 ships no types; the bench uses its programmatic API only.
declare module 'autocannon' {
  const autocannon: (options: Record<string, unknown>) => Promise<Record<string, unknown>>;
  export default autocannon;
}
