export { INVALID_OPTION, isVigilOptionError, VigilOptionError } from '@vigil/core';
