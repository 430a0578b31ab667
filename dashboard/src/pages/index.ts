// Every page module, imported once for its definePage() side effect. Add one line per new page.
import './home.js';
import './login.js';
import './setup.js';
import './board.js';
import './map.js';
import './reports.js';
import './sms.js';
import './residents.js';
import './devices.js';
import './workers.js';
import './roster.js';
import './registry.js';
import './visits.js';
import './my-visits.js';
