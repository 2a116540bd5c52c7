/**
 * Bridge for `serverless.yml`: osls loads `${file(...)}` JavaScript with `require()`, and only
 * `.js`/`.cjs` files. Node 24 can `require()` the TypeScript ESM modules directly (type stripping
 * plus require(esm)), so this shim holds no infrastructure of its own: it resolves the stage, the
 * region and the `params` of serverless.yml, has `infra/deploy-settings.ts` validate them, and
 * passes them to `infra/cloudformation.ts`, which builds everything from `infra/resources.ts`.
 */
const { serverlessFragments } = require('./cloudformation.ts');
const { DEPLOY_PARAM_NAMES, parseDeploySettings } = require('./deploy-settings.ts');

module.exports = async ({ resolveVariable }) => {
  const params = {};
  for (const name of DEPLOY_PARAM_NAMES) params[name] = await resolveVariable(`param:${name}`);
  return serverlessFragments(
    parseDeploySettings({
      ...params,
      stage: await resolveVariable('sls:stage'),
      region: await resolveVariable('self:provider.region'),
    }),
  );
};
