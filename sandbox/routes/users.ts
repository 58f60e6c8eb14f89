import { GraphError } from '../errors';
import type { Route } from '../router';
import { compileFilter, page, select, userJson } from './common';

/** Users: get by id or UPN, list with `$filter` on mail / userPrincipalName / displayName / id. */
export const userRoutes: Route[] = [
  {
    method: 'GET',
    path: '/users',
    handler: (ctx) => {
      const filter = ctx.query.get('$filter');
      const predicate = filter
        ? compileFilter(filter, ['mail', 'userPrincipalName', 'displayName', 'id'])
        : () => true;
      const users = ctx.store.data.users
        .map(userJson)
        .filter(predicate)
        .map((u) => select(ctx, u));
      return {
        status: 200,
        body: page(ctx, users, '/users', { maxTop: 999, defaultTop: 100, context: 'users' }),
      };
    },
  },
  {
    method: 'GET',
    path: '/users/{userId}',
    handler: (ctx) => {
      const id = ctx.params.userId ?? '';
      const user = ctx.store.user(id);
      if (!user) {
        throw new GraphError(
          404,
          'Request_ResourceNotFound',
          `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
        );
      }
      return {
        status: 200,
        body: {
          '@odata.context': 'https://graph.microsoft.com/v1.0/$metadata#users/$entity',
          ...select(ctx, userJson(user)),
        },
      };
    },
  },
];
