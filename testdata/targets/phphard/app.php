<?php
// A hardened PHP app on native sessions, a target for "latch audit" tests:
// the router script of PHP's built-in server.
//
//     IDLE_SECONDS=2 ABSOLUTE_SECONDS=5 \
//         php -d session.save_path=DIR -S 127.0.0.1:PORT app.php
//
// Strict mode (an ID the server did not issue is never adopted), a
// __Host- cookie with Secure, HttpOnly and SameSite=Strict, a new ID at
// login with the old session deleted, logout that destroys the session on
// the server, and idle and absolute timeouts the application enforces
// from times kept in the session. PHP's built-in server has no TLS, so it
// is served over plain HTTP on loopback, which browsers treat as a secure
// context; expect.json says what the auditor must find.
//
// Users: alice / wonderland. POST /login, GET /me (200 or 401), POST /logout.

$idle = (int)(getenv('IDLE_SECONDS') ?: 900);
$absolute = (int)(getenv('ABSOLUTE_SECONDS') ?: 43200);

ini_set('session.use_strict_mode', '1');
ini_set('session.use_only_cookies', '1');
ini_set('session.use_trans_sid', '0');
session_name('__Host-PHPSESSID');
session_set_cookie_params([
    'lifetime' => 0,
    'path' => '/',
    'secure' => true,
    'httponly' => true,
    'samesite' => 'Strict',
]);

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$method = $_SERVER['REQUEST_METHOD'];

const FORM = '<!DOCTYPE html><title>phphard</title><form method="post" action="/login">'
    . '<input name="username"><input name="password" type="password"><button>Log in</button></form>';

// end_session deletes the session on the server and in the browser.
function end_session(): void
{
    $_SESSION = [];
    $p = session_get_cookie_params();
    setcookie(session_name(), '', [
        'expires' => time() - 3600, 'path' => $p['path'], 'secure' => $p['secure'],
        'httponly' => $p['httponly'], 'samesite' => $p['samesite'],
    ]);
    session_destroy();
}

session_start();
$now = time();
if (isset($_SESSION['user'])
    && ($now - ($_SESSION['last_seen'] ?? 0) > $idle || $now - ($_SESSION['auth_at'] ?? 0) > $absolute)) {
    end_session();
    session_start();
}
$_SESSION['last_seen'] = $now;

switch ($path) {
case '/':
    echo FORM;
    break;

case '/login':
    if ($method !== 'POST') {
        echo FORM;
        break;
    }
    if (($_POST['username'] ?? '') !== 'alice' || !hash_equals('wonderland', $_POST['password'] ?? '')) {
        http_response_code(401);
        echo 'bad credentials';
        break;
    }
    session_regenerate_id(true);
    $_SESSION = ['user' => 'alice', 'auth_at' => $now, 'last_seen' => $now];
    header('Location: /me', true, 303);
    break;

case '/me':
    header('Content-Type: application/json');
    if (empty($_SESSION['user'])) {
        http_response_code(401);
        echo json_encode(['error' => 'not logged in']);
        break;
    }
    echo json_encode(['user' => $_SESSION['user']]);
    break;

case '/logout':
    if ($method !== 'POST') {
        http_response_code(405);
        header('Allow: POST');
        break;
    }
    end_session();
    header('Location: /', true, 303);
    break;

default:
    http_response_code(404);
    echo 'not found';
}
