// `#/` sends each role to its own first page.
import { definePage, homeOf } from '../router.js';

definePage({
  path: '',
  title: 'app.title',
  roles: ['admin', 'duty_officer', 'worker', 'volunteer'],
  render: (_el, ctx) => {
    if (ctx.me) ctx.navigate(homeOf(ctx.me.role));
  },
});
