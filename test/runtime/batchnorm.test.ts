import { defineBatchNormSuite } from '../support/suites/batchnorm.js';

defineBatchNormSuite('cpu');
