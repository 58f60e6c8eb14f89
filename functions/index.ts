/** The Functions app's entry point (package.json `main`): importing it registers every function. */
import './health';
import './migrations';
import './passes';
import './operations';
import './dashboard';
import './pipeline';
import './chatExport';
