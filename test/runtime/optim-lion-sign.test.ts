/** Lion's sign on tiny gradients on the pure-JS cpu backend (suite: test/support/suites/lion-sign.ts). */
import { defineLionSignSuite } from '../support/suites/lion-sign.js';

defineLionSignSuite('cpu');
