// fastify@4 installed under an alias for the version-guard test; typed as Fastify (5) is enough there.
declare module 'fastify4' {
  import Fastify from 'fastify';
  export default Fastify;
}
