/**
 * Bridge for `serverless.yml`: osls loads `${file(...)}` JavaScript with `require()`, and only
 * `.js`/`.cjs` files. Node 24 can `require()` the TypeScript ESM module directly (type stripping
 * plus require(esm)), so this shim holds no infrastructure of its own: it passes the stage to
 * `infra/cloudformation.ts`, which builds everything from `infra/resources.ts`.
 */
const { serverlessFragments } = require('./cloudformation.ts');

module.exports = async ({ resolveVariable }) =>
  serverlessFragments(
    await resolveVariable('sls:stage'),
    await resolveVariable('self:provider.region'),
  );
