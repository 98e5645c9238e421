console.log('plainloop: not yet');
