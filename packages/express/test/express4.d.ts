// express@4 installed under an alias for the version-guard test; typed as Express (5) is enough there.
declare module 'express4' {
  import express from 'express';
  export default express;
}

// express@4.17 (the oldest supported) under its own alias, for the route-template tests.
declare module 'express417' {
  import express from 'express';
  export default express;
}
