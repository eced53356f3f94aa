// The Koa 2 devDependency (npm:koa@2) has the same API as Koa 3 for what these tests use.
declare module 'koa2' {
  import Koa from 'koa';
  export default Koa;
}
