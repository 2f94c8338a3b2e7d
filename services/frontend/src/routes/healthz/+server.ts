import { json } from '@sveltejs/kit';
import type { RequestHandler } from './$types';

// Liveness of this server only: it must not depend on the backend, or a backend outage
// would make Kubernetes restart healthy frontend pods.
export const GET: RequestHandler = () =>
	json({ status: 'ok' }, { headers: { 'cache-control': 'no-store' } });
