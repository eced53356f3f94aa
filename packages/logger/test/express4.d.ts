// express@4 installed under an alias for the version-guard test; typed as Express (5) is enough there.
declare module 'express4' {
  import express from 'express';
  export default express;
}
