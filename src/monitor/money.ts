/** Money as every shopsim table prints it: the catalog's prices are in cents of one currency, shown as `$1,234.56`. */
export function formatMoney(cents: number, symbol = '$'): string {
  return `${symbol}${(cents / 100).toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}
