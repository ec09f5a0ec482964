<?php
// A PHP app on native sessions with PHP's defaults, a target for
// "latch audit" tests: the router script of PHP's built-in server.
//
//     php -d session.save_path=DIR -S 127.0.0.1:PORT app.php
//
// Only the session files' directory is set; every session setting is
// PHP's (and Debian's php.ini's) default: cookie PHPSESSID without Secure,
// HttpOnly or SameSite, session.use_strict_mode=0 (an ID the client made up
// is adopted), no new ID at login, and no expiry the application enforces
// (Debian turns PHP's garbage collection off). Logout only deletes the
// cookie in the browser. Every weakness is listed in expect.json.
//
// Users: alice / wonderland. POST /login, GET /me (200 or 401), POST /logout.

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$method = $_SERVER['REQUEST_METHOD'];

const FORM = '<!DOCTYPE html><title>phpweak</title><form method="post" action="/login">'
    . '<input name="username"><input name="password" type="password"><button>Log in</button></form>';

// Like most PHP applications, every page starts the session.
session_start();

switch ($path) {
case '/':
    $_SESSION['visits'] = ($_SESSION['visits'] ?? 0) + 1;
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
    // Planted: no session_regenerate_id() at login.
    $_SESSION['user'] = 'alice';
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
    // Planted: the cookie is deleted in the browser, but the session file
    // on the server is kept, so a copy of the ID stays logged in.
    $p = session_get_cookie_params();
    setcookie(session_name(), '', time() - 3600, $p['path'], $p['domain'], $p['secure'], $p['httponly']);
    header('Location: /', true, 303);
    break;

default:
    http_response_code(404);
    echo 'not found';
}
