/** Lion's sign on tiny gradients on the wasm backend, where tf.sign rounds |x| < ~1.2e-7 to 0. */
import { defineLionSignSuite } from '../support/suites/lion-sign.js';

defineLionSignSuite('wasm');
