import { env } from '$env/dynamic/private';
import type { LayoutServerLoad } from './$types';

const KNOWN = ['development', 'staging', 'production'];

// Read at request time, not build time, so one image (one digest) serves demo and prod
// with VITE_ENVIRONMENT coming from the overlay's ConfigMap. Only this one value is sent
// to the browser.
export const load: LayoutServerLoad = () => {
	const value = (env.VITE_ENVIRONMENT ?? '').trim().toLowerCase();
	return { environment: KNOWN.includes(value) ? value : 'development' };
};
