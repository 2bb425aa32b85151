// Packages the extension to nvc-<version>.vsix with Microsoft's packager (@vscode/vsce, fetched
// by npx on first use: packaging needs the network once, using the extension does not).
// Run from editors/vscode: `npm install && npm run package`; install with
// `code --install-extension nvc-0.1.0.vsix`.
import { execFileSync } from 'node:child_process';

execFileSync('npx', ['--yes', '@vscode/vsce@3', 'package', '--allow-missing-repository', '--skip-license'], {
  stdio: 'inherit',
});
