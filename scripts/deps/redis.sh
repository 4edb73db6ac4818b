need redis-server redis-server
