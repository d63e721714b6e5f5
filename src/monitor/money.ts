/**
 * Money as every shopsim table prints it: the catalog's prices are in cents (hundredths) of one
 * currency, `--currency` (an ISO 4217 code, default USD), shown with its symbol and two decimals:
 * `$1,234.56`, `€1,234.56`, `CHF 1,234.56`. The same everywhere: run summary, dashboard, report.
 */
const formats = new Map<string, Intl.NumberFormat>();

/** The currency shopsim assumes when none is given (the bundled catalog is in US dollars). */
export const DEFAULT_CURRENCY = 'USD';

export function formatMoney(cents: number, currency: string = DEFAULT_CURRENCY, fractionDigits = 2): string {
  const key = `${currency}/${fractionDigits}`;
  let f = formats.get(key);
  if (!f) {
    f = new Intl.NumberFormat('en-US', { style: 'currency', currency, minimumFractionDigits: fractionDigits, maximumFractionDigits: fractionDigits });
    formats.set(key, f);
  }
  // Plain spaces (Intl puts a no-break space in `CHF 1.00`): what a terminal and a test compare.
  return f.format(cents / 100).replace(/\u00a0/g, ' ');
}

/** Whether `code` is an ISO 4217 code this Node knows (upper case). */
export function isCurrencyCode(code: string): boolean {
  if (!/^[A-Z]{3}$/.test(code)) return false;
  const known = (Intl as { supportedValuesOf?: (k: string) => string[] }).supportedValuesOf?.('currency');
  return known ? known.includes(code) : true;
}
