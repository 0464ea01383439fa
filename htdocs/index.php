<?php
/*
 * Request information, run through PHP by maitred. Everything that comes
 * from the request is escaped before it is printed.
 */
header('Content-Type: text/html; charset=utf-8');

function h($s)
{
	return htmlspecialchars((string)$s, ENT_QUOTES | ENT_SUBSTITUTE, 'UTF-8');
}

function server($name)
{
	return isset($_SERVER[$name]) && $_SERVER[$name] !== '' ?
	    $_SERVER[$name] : '-';
}

$client = server('REMOTE_ADDR');
if (isset($_SERVER['REMOTE_PORT']))
	$client .= ' port ' . $_SERVER['REMOTE_PORT'];

$rows = array(
	'Method' => server('REQUEST_METHOD'),
	'URI' => server('REQUEST_URI'),
	'Query string' => server('QUERY_STRING'),
	'Client address' => $client,
	'Host' => server('HTTP_HOST'),
	'User agent' => server('HTTP_USER_AGENT'),
	'Server software' => server('SERVER_SOFTWARE'),
	'Server time' => date('Y-m-d H:i:s T'),
	'PHP version' => PHP_VERSION . ' (' . PHP_SAPI . ')',
);
?>
<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>maitred - PHP</title>
<link rel="stylesheet" href="/style.css">
</head>
<body>
<header><div class="wrap">
<a class="brand" href="/">ma&icirc;tre<span>d</span></a>
<nav>
<a href="/">Home</a>
<a href="/about.html">About</a>
<a href="/index.php" aria-current="page">PHP</a>
<a href="/docs/">Docs</a>
</nav>
</div></header>
<main><div class="wrap">
<h1>Your request</h1>
<p class="lead">This page was produced by PHP, run by maitred for a
<code>.php</code> file under <code>htdocs/</code>.</p>
<table>
<?php foreach ($rows as $name => $value) { ?>
<tr><th><?= h($name) ?></th><td><code><?= h($value) ?></code></td></tr>
<?php } ?>
</table>
<?php if (!empty($_GET)) { ?>
<h2>Query parameters</h2>
<table>
<?php foreach ($_GET as $k => $v) { ?>
<tr><th><?= h($k) ?></th><td><code><?= h(is_array($v) ? json_encode($v) : $v) ?></code></td></tr>
<?php } ?>
</table>
<?php } ?>
<p>Try <a href="/index.php?table=4&amp;guests=2">/index.php?table=4&amp;guests=2</a>.</p>
</div></main>
<footer><div class="wrap">Served by maitred from <code>htdocs/</code>.</div></footer>
</body>
</html>
