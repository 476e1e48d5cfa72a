import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'provisio:public-route';

/** Marks a controller or route as reachable without authentication (health, metrics). */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
