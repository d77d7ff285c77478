// Initiates the replica set rs0 of docker-compose.yml on its three
// members, unless it is initiated already, then waits until it has a
// primary so that taxiid starts on a writable set.
const members = ["mongo1:27017", "mongo2:27017", "mongo3:27017"];

try {
  rs.status();
  print("replica set rs0 is initiated already");
} catch (e) {
  if (e.codeName !== "NotYetInitialized") {
    throw e;
  }
  rs.initiate({ _id: "rs0", members: members.map((host, i) => ({ _id: i, host: host })) });
  print("replica set rs0 initiated");
}

for (let i = 0; i < 120; i++) {
  if (db.hello().primary) {
    print("replica set rs0 has a primary: " + db.hello().primary);
    quit(0);
  }
  sleep(1000);
}
print("replica set rs0 has no primary after 120 s");
quit(1);
