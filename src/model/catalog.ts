/**
 * The product catalog: a seeded generator and a validator for data/products.json.
 */
import { Rng, seedRng } from './rng.ts';
import type { Product } from './types.ts';
import { checkRecordsWithIds, expectInt, expectNumber, expectString, expectRecordArray } from './validate.ts';

export const CATEGORIES = [
  'electronics',
  'home',
  'fashion',
  'beauty',
  'sports',
  'toys',
  'grocery',
  'books',
  'garden',
  'pets',
] as const;

const CATEGORY_PRICE: Record<string, [number, number]> = {
  electronics: [1999, 89999],
  home: [999, 29999],
  fashion: [1499, 19999],
  beauty: [499, 7999],
  sports: [999, 24999],
  toys: [599, 9999],
  grocery: [199, 2999],
  books: [799, 4999],
  garden: [799, 19999],
  pets: [399, 8999],
};

const ADJECTIVES = ['Classic', 'Smart', 'Eco', 'Deluxe', 'Compact', 'Pro', 'Everyday', 'Premium', 'Mini', 'Ultra', 'Cozy', 'Fresh'];
const NOUNS: Record<string, string[]> = {
  electronics: ['Headphones', 'Charger', 'Speaker', 'Tablet', 'Camera', 'Monitor', 'Keyboard'],
  home: ['Lamp', 'Blanket', 'Mug Set', 'Cutting Board', 'Vase', 'Towel Set'],
  fashion: ['Jacket', 'Sneakers', 'Scarf', 'Jeans', 'T-Shirt', 'Backpack'],
  beauty: ['Serum', 'Lip Balm', 'Face Mask', 'Shampoo', 'Perfume'],
  sports: ['Yoga Mat', 'Dumbbells', 'Water Bottle', 'Running Shorts', 'Tennis Racket'],
  toys: ['Puzzle', 'Building Set', 'Plush Bear', 'Board Game', 'Kite'],
  grocery: ['Coffee Beans', 'Olive Oil', 'Granola', 'Tea Sampler', 'Dark Chocolate'],
  books: ['Cookbook', 'Novel', 'Travel Guide', 'Notebook', 'Atlas'],
  garden: ['Planter', 'Hose', 'Seed Kit', 'Pruner', 'Bird Feeder'],
  pets: ['Dog Toy', 'Cat Tree', 'Pet Bed', 'Leash', 'Treats'],
};

/** `count` products spread over the ten categories; same seed, same catalog. */
export function generateProducts(count: number, seed: number): Product[] {
  const rng = new Rng(seedRng(seed ^ 0x5eed_cafe));
  const products: Product[] = [];
  for (let i = 0; i < count; i++) {
    const category = CATEGORIES[i % CATEGORIES.length] as string;
    const [lo, hi] = CATEGORY_PRICE[category] as [number, number];
    // Log-uniform prices: many cheap items, a few expensive ones.
    const price = Math.round(Math.exp(Math.log(lo) + rng.next() * (Math.log(hi) - Math.log(lo))) / 10) * 10 - 1;
    const noun = rng.pick(NOUNS[category] as string[]);
    const adjective = rng.pick(ADJECTIVES);
    const n = String(i + 1).padStart(4, '0');
    products.push({
      id: `prod_${n}`,
      sku: `${category.slice(0, 3).toUpperCase()}-${n}`,
      name: `${adjective} ${noun}`,
      category,
      price_cents: Math.max(99, price),
      stock: rng.int(20, 500),
      rating: Math.round(rng.bell(4.1, 0.8) * 10) / 10,
    });
  }
  return products;
}

/** Validates parsed JSON as a product list; throws one line naming file, record and field. */
export function validateProducts(data: unknown, file: string): Product[] {
  const records = expectRecordArray(data, file, 'products');
  checkRecordsWithIds(records, file, (r, at) => {
    expectString(r, 'sku', at);
    expectString(r, 'name', at);
    expectString(r, 'category', at);
    expectInt(r, 'price_cents', at, 1);
    expectInt(r, 'stock', at, 0);
    expectNumber(r, 'rating', at, 0, 5);
  });
  return records as unknown as Product[];
}
